# Reproducible recipes. `make model` rebuilds the default model that ships in spectool/data/:
# AFLOW structure-type corpus (from the installed pymatgen) -> simulate -> augment -> train a ViT
# -> evaluate on held-out compounds, all from one SEED. About 30 minutes on 2 CPU cores.
# A tiny run for a smoke test:  make model BUILD=/tmp/m OUT=/tmp/m/model.safetensors TYPES=B1,C1 PER_TYPE=4 COPIES=1 EPOCHS=1

PYTHON    ?= python3
SPECTOOL  ?= $(PYTHON) -m spectool
SEED      ?= 0
WORKERS   ?= 2
BUILD     ?= build/model
OUT       ?= spectool/data/default.safetensors
TYPES     ?=
MAX_SITES ?= 40
PER_TYPE  ?= 15
HOLDOUT   ?= 0.2
COPIES    ?= 12
EPOCHS    ?= 40
MODEL     ?= --model vit --patch 120 --dim 96 --depth 4 --heads 4 --dropout 0
TRAIN     ?= --batch-size 128 --lr 1e-3 --patience 2000  # optimiser steps: ~5 epochs of this set

CORPUS := $(BUILD)/corpus
TYPES_OPT := $(if $(TYPES),--types $(TYPES),)

# Phase references for predict's whole-pattern verification, added to the checkpoint: the first
# REF_PER_TYPE training compounds of each type (the prototype first) of the corpus the model was
# trained on (the same SEED regenerates it; add_references refuses nothing but counts what it skips).
REF_PER_TYPE ?= 4
# predict's "unknown" threshold: the 95th percentile of the unexplained peak-area share of correctly
# verified held-out compounds (CALIBRATE_N of them, drawn with SEED), stored beside the references.
CALIBRATE_N ?= 40

.PHONY: model docs example clean-model references
model: $(OUT)

$(CORPUS)/manifest.csv:
	@mkdir -p $(BUILD)
	$(SPECTOOL) corpus prototypes -o $(CORPUS) --force --per-type $(PER_TYPE) --max-sites $(MAX_SITES) \
		--holdout $(HOLDOUT) --seed $(SEED) -j $(WORKERS) $(TYPES_OPT)

$(BUILD)/sim-train.h5: $(CORPUS)/manifest.csv
	$(SPECTOOL) simulate $(CORPUS)/train --label parent -j $(WORKERS) -q -o $@

$(BUILD)/sim-test.h5: $(CORPUS)/manifest.csv
	$(SPECTOOL) simulate $(CORPUS)/test --label parent -j $(WORKERS) -q -o $@

# The training patterns go through the recipe that predict replays on raw scans (SNIP baseline, max
# normalisation), after augmentation has added backgrounds and counting noise: what the model sees in
# training is what a measured scan looks like once prepared.
RECIPE ?= -s baseline:method=snip -s normalize:method=max

$(BUILD)/aug.h5: $(BUILD)/sim-train.h5
	$(SPECTOOL) augment $< -n $(COPIES) --preset both --balance --keep-original --seed $(SEED) -j $(WORKERS) -q -o $@

$(BUILD)/train.h5: $(BUILD)/aug.h5
	$(SPECTOOL) preprocess $< $(RECIPE) -q -o $@

$(BUILD)/test.h5: $(BUILD)/sim-test.h5
	$(SPECTOOL) preprocess $< $(RECIPE) -q -o $@

$(OUT): $(BUILD)/train.h5 $(BUILD)/test.h5
	$(SPECTOOL) train $< $(MODEL) $(TRAIN) --epochs $(EPOCHS) --seed $(SEED) --threads $(WORKERS) --test $(BUILD)/test.h5 \
		--label-info $(CORPUS)/types.csv --label-columns strukturbericht,pearson,prototype_formula,mineral \
		--log $(BUILD)/train.jsonl -o $@
	$(PYTHON) tools/add_references.py $@ $(CORPUS) --split train --per-label $(REF_PER_TYPE)
	$(PYTHON) tools/calibrate_unknown.py $@ $(BUILD)/sim-test.h5 --n $(CALIBRATE_N) --seed $(SEED)

references: $(CORPUS)/manifest.csv $(BUILD)/sim-test.h5
	$(PYTHON) tools/add_references.py $(OUT) $(CORPUS) --split train --per-label $(REF_PER_TYPE)
	$(PYTHON) tools/calibrate_unknown.py $(OUT) $(BUILD)/sim-test.h5 --n $(CALIBRATE_N) --seed $(SEED)

docs:
	$(PYTHON) tools/gendocs.py

example:
	$(PYTHON) tools/make_example.py

clean-model:
	rm -rf $(BUILD)
