# Two entry points for a fresh machine (see README): `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
export SIGHTLINE_MODELS ?= $(SHARED)/models
export SIGHTLINE_DATA ?= $(SHARED)/data
SAMPLES := $(SIGHTLINE_DATA)/faces-small

.PHONY: install run demo test lint system-deps bench bench-install lfw-cache

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,cluster]"
	touch $@

install: $(VENV)/.installed

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e ".[dev,cluster,bench]"
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
# The LFW ones read a resumable embedding cache (.cache/lfw, git-ignored) that lfw-cache fills: hours on
# 2 cores the first time, seconds once filled.
LFW_SPECS := yunet-dlib:dlibbox=fit,yunet=yunet-2023mar yunet-mobileface:flip=both,yunet=yunet-2023mar \
	yunet-frfeature:flip=both,yunet=yunet-2023mar yunet-insightface:flip=both,yunet=yunet-2023mar
OPEN_SET_BACKENDS := yunet-fused yunet-dlib yunet-mobileface yunet-frfeature yunet-insightface yunet-fused-insightface

lfw-cache: bench-install
	for spec in $(LFW_SPECS); do \
	  $(PY) bench/lfw_embeddings.py --backend $$spec --condition colour || exit 1; \
	  for c in grey down2 down4; do $(PY) bench/lfw_embeddings.py --backend $$spec --condition $$c --subset degraded || exit 1; done; \
	done

bench: bench-install lfw-cache
	$(PY) bench/calibrate.py
	$(PY) bench/lfw_views.py
	for b in $(OPEN_SET_BACKENDS); do $(PY) bench/open_set.py --backend $$b || exit 1; done
	$(PY) bench/speed.py
	$(PY) bench/lfw.py
	$(PY) bench/identify_accuracy.py
	$(PY) bench/search.py
	$(PY) bench/objects_speed.py
	$(PY) bench/coco.py
	$(PY) bench/video_speed.py
	$(PY) bench/pipeline_speed.py --threads 1
	$(PY) bench/api_load.py
	$(PY) bench/plates.py
	$(PY) bench/plates_video.py --regions eu,us --limit 30 --frames 5
	$(PY) bench/checkout.py
	$(PY) bench/liveness.py
	$(PY) bench/int8.py
	$(PY) bench/cluster_cameras.py
	$(PY) bench/api_replicas.py --configs threads-core0,replicas-pinned,threads,workers,replicas,ray --duration 12
	$(PY) bench/sharded_search.py --templates 1000000 --queries 1000 --nlist 1024 --nprobe 32,128,256
	$(PY) bench/sharded_search.py --templates 10000000 --queries 500 --nlist 2048 --nprobe 128,256,512
