# The two commands of the README. Both set themselves up on a fresh machine.
#   make demo   the main job, end to end, on the embedded default model
#   make test   the whole test suite
.PHONY: demo test setup setup-test

setup:
	scripts/bootstrap.sh

setup-test:
	scripts/bootstrap.sh --test

demo: setup
	scripts/main_job.sh

test: setup-test
	.venv/bin/python -m pytest $(PYTEST_ARGS)
