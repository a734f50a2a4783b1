# Convenience wrappers; the scripts do the work and also run without make.
#   make lab                                  start JupyterLab on notebooks/
#   make lab ARGS="--no-browser --port 8899"  extra arguments for jupyter lab
#   make test                                 install what tests need, lint, run pytest
#   make test ARGS="tests/browser -x"         extra arguments for pytest
.PHONY: lab test

lab:
	bash scripts/lab.sh $(ARGS)

test:
	bash scripts/test.sh $(ARGS)
