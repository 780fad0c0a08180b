# Two entry points for a fresh machine (see README): `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
export SIGHTLINE_MODELS ?= $(SHARED)/models
export SIGHTLINE_DATA ?= $(SHARED)/data
SAMPLES := $(SIGHTLINE_DATA)/faces-small

.PHONY: install run demo test lint system-deps bench bench-install

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e ".[dev,bench]"
	touch $@

bench-install: $(VENV)/.bench-installed

system-deps:
	bash scripts/system-deps.sh

# The main job: the server (REST API + web UI) on 127.0.0.1:8000 with SQLite and the in-process index.
# On the first run it prints an admin API key once; open http://127.0.0.1:8000/ and log in with it.
run: install
	$(VENV)/bin/sightline serve --host 127.0.0.1 --port 8000

demo: install
	$(VENV)/bin/sightline models verify
	$(VENV)/bin/sightline faces detect $(SAMPLES)/group_six_people.jpg $(SAMPLES)/examples/two_people.jpg --annotate out/annotated
	$(VENV)/bin/sightline faces verify $(SAMPLES)/examples/obama.jpg $(SAMPLES)/examples/obama2.jpg
	-$(VENV)/bin/sightline faces verify $(SAMPLES)/examples/obama.jpg $(SAMPLES)/examples/biden.jpg

lint: install
	$(VENV)/bin/ruff check sightline tests bench

test: install system-deps lint
	$(PY) -m pytest -q

# Every benchmark, each printing a markdown table; bench/README.md says which data each figure comes from.
bench: bench-install
	$(PY) bench/calibrate.py
	$(PY) bench/speed.py
	$(PY) bench/lfw.py
	$(PY) bench/identify_accuracy.py
	$(PY) bench/search.py
	$(PY) bench/objects_speed.py
	$(PY) bench/coco.py
	$(PY) bench/video_speed.py
	$(PY) bench/pipeline_speed.py --threads 1
	$(PY) bench/api_load.py
