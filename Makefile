.PHONY: test demo setup bench

setup:
	scripts/setup

test:
	scripts/test

demo:
	scripts/demo

bench:
	scripts/setup && .venv/bin/python -m bench
