#include "tests/harness.h"
int main(int argc, char **argv) { return th_main(argc, argv); }
