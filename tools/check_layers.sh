#!/usr/bin/env bash
# The layering check (run by `make test` and `make layers`): dependencies point one way,
#     scripts/ -> train/ -> analysis/ -> arch/, data/ -> core/        plots/ apart (scripts/ may use it)
# arch/ and data/ stand side by side and use neither each other nor anything above them; plots/ uses
# nothing of archlab but itself. Only scripts/ includes Lua headers and only plots/ includes cairo.
#
# Two views are checked, so that neither an #include nor a call can point the wrong way:
#   1. every #include "folder/file.h" of every .c and .h (the source tree);
#   2. every symbol an object file of the build takes from another (nm: undefined -> defined), which also
#      catches a call to a function declared in one folder's header but defined in another folder's file;
#      and over those same edges, no circle of files (tsort): a header declares, its file defines, and the
#      files of a folder call one another one way only.
# Usage: tools/check_layers.sh [OBJDIR] [SRCDIR]   (OBJDIR: build/f32, SRCDIR: the repository root)
# Prints one line per violation and exits 1, or prints "layers: ... one way, no circles" and exits 0.
set -u
OBJDIR=${1:-build/f32}
SRC=${2:-.}
[ -d "$OBJDIR" ] && OBJDIR=$(cd "$OBJDIR" && pwd)
cd "$SRC" || exit 2
SRC=$(pwd)
FOLDERS="core arch data analysis train scripts plots"

rank() {
    case "$1" in
        core) echo 1 ;; arch|data) echo 2 ;; analysis) echo 3 ;; train) echo 4 ;; scripts) echo 5 ;;
        plots) echo P ;; *) echo X ;;
    esac
}

# allowed FROM TO: may a file of folder FROM use folder TO?
allowed() {
    local from=$1 to=$2
    [ "$from" = "$to" ] && return 0
    [ "$from" = scripts ] && return 0              # the top: everything, plots included
    local rf rt; rf=$(rank "$from"); rt=$(rank "$to")
    [ "$rf" = P ] || [ "$rt" = P ] && return 1     # plots/ neither uses nor is used by the model side
    [ "$rf" = X ] || [ "$rt" = X ] && return 0     # outside the layered folders (tools/, tests/)
    [ "$rt" -lt "$rf" ]
}

bad=0
report() { echo "layers: $*"; bad=$((bad + 1)); }

# ---- 1. includes ----
for f in $(find $FOLDERS -name '*.[ch]' 2>/dev/null | sort); do
    from=${f%%/*}
    while IFS= read -r inc; do
        to=${inc%%/*}
        allowed "$from" "$to" || report "$f includes \"$inc\": $from/ may not point to $to/"
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    if [ "$from" != scripts ] && grep -qE '#[[:space:]]*include[[:space:]]*<(lua|lauxlib|lualib)\.h>' "$f"; then
        report "$f includes a Lua header: only scripts/ may (the engine does not depend on its scripting language)"
    fi
    if [ "$from" != plots ] && grep -qE '#[[:space:]]*include[[:space:]]*<cairo' "$f"; then
        report "$f includes cairo: only plots/ draws"
    fi
done

# ---- 2. symbols between object files ----
if [ ! -d "$OBJDIR" ]; then
    echo "layers: no object directory '$OBJDIR' (build first: make bin/archlab)"; exit 2
fi
# objects of sources that exist (a build directory keeps the objects of files since removed)
objs=$(cd "$OBJDIR" && find $FOLDERS -name '*.o' 2>/dev/null | sort | while read -r o; do [ -f "$SRC/${o%.o}.c" ] && echo "$o"; done)
[ -n "$objs" ] || { echo "layers: no object files under '$OBJDIR'"; exit 2; }
defs=$(mktemp); uses=$(mktemp); edges=$(mktemp)
trap 'rm -f "$defs" "$uses" "$edges"' EXIT
for o in $objs; do
    nm -P --defined-only "$OBJDIR/$o" 2>/dev/null | awk -v o="$o" '$2 ~ /^[TDBRCVW]$/ {print $1, o}' >> "$defs"
    nm -P --undefined-only "$OBJDIR/$o" 2>/dev/null | awk -v o="$o" '{print $1, o}' >> "$uses"
done
# user -> definer, one line per pair of files (the first symbol named)
awk 'NR == FNR { def[$1] = $2; next } ($1 in def) && def[$1] != $2 { k = $2 " " def[$1]; if (!(k in seen)) { seen[k] = $1; print $2, def[$1], $1 } }' \
    "$defs" "$uses" > "$edges"
while read -r user definer sym; do
    from=${user%%/*}; to=${definer%%/*}
    allowed "$from" "$to" || report "${user%.o}.c uses $sym from ${definer%.o}.c: $from/ may not point to $to/"
done < "$edges"
# tsort names each loop it breaks: "tsort: -: input contains a loop:" then the loop's files, one per line
while IFS= read -r loop; do
    [ -n "$loop" ] && report "a circle of files calling one another: $loop"
done < <(awk '{print $1, $2}' "$edges" | tsort 2>&1 >/dev/null |
         awk '/input contains a loop/ { if (l != "") print l; l = ""; next }
              { sub(/^tsort: /, ""); sub(/\.o$/, ".c"); l = l (l == "" ? "" : " -> ") $0 }
              END { if (l != "") print l }')

if [ "$bad" -gt 0 ]; then
    echo "layers: $bad violation(s) of scripts/ -> train/ -> analysis/ -> arch/, data/ -> core/ (plots/ apart)"
    exit 1
fi
echo "layers: $(echo "$objs" | wc -w) object files, $(wc -l < "$edges") links between them: one way, no circles"
exit 0
