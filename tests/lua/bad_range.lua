archlab.train{ model = archlab.model{ preset = "tiny" }, data = archlab.data.copy{}, lr = 1000 }
