# Reproducible recipes. `make model` rebuilds the default model that ships in spectool/data/:
#   a structure-type library (spectool corpus library: the AFLOW prototype encyclopedia and the trimmed
#   AMCSD from the packages of `pip install '.[library]'`, plus the CIF folders in CIF_DIRS)
#   -> simulate as a laboratory diffractometer records (Cu Ka1+Ka2, Caglioti widths, pseudo-Voigt)
#   -> augment with the laboratory's physics (strain, crystallite size, texture, impurities, sample
#      displacement, zero shift, amorphous humps, backgrounds, counting noise)
#   -> prepare as predict prepares scans -> train a CNN (weights stored in float16) -> add the phase
#      references predict fits and calibrate its "unknown" threshold; evaluated on compounds held out
#      whole. All from one SEED.
# Resumable: interrupted, `make model` again keeps every finished file, and training continues from
# its state file at the last finished epoch. About 1 h 45 min on 2 CPU cores (see README).
# `make transfer-model` trains the XRD ViT that ships for transfer learning (train --init) on the same set.
# A tiny run (the test suite's):
#   make model BUILD=/tmp/m OUT=/tmp/m/model.safetensors SOURCES= CIF_DIRS=my-cifs COPIES=1 EPOCHS=1

PYTHON    ?= python3
SPECTOOL  ?= $(PYTHON) -m spectool
SEED      ?= 0
WORKERS   ?= 2
BUILD     ?= build/model
OUT       ?= spectool/data/default.safetensors

# The library's sources: the packaged ones, and folders of CIFs named by mineral or structure type
# (these two are the team's; any folder of CIFs with a label table or _chemical_name_mineral works).
SOURCES   ?= --aflow --amcsd
SHARED    ?= ../shared/data/cifs
CIF_DIRS  ?= $(wildcard $(SHARED)/openchemistry-crystals $(SHARED)/mp-prototypes)
CIF_LABELS ?= $(wildcard benchmarks/data/iza_framework_minerals.csv)
PER_TYPE  ?= 20
HOLDOUT   ?= 0.2
LIBRARY   := $(SOURCES) $(foreach d,$(CIF_DIRS),--cifs $(d)) $(if $(CIF_DIRS),$(foreach f,$(CIF_LABELS),--labels $(f)))

# A laboratory Bragg-Brentano diffractometer: Cu Ka1+Ka2, Caglioti widths (FWHM ~0.06 deg at 30 deg 2theta
# before size broadening), pseudo-Voigt peaks.
INSTRUMENT ?= --radiation CuKa12 --profile pseudo-voigt --eta 0.5 --uvw 0.004,-0.002,0.004
# Augmented copies per structure; --balance gives types with few structures up to 10x more.
COPIES    ?= 4
AUGMENT   ?= --preset both --balance --keep-original --op strain:max=0.03 --op size:nm=10:150 \
             --op displacement:mm=-0.25:0.25 --op noise:kind=poisson,counts=500:50000 \
             --op background:amplitude=0:0.2 --op hump:p=0.5,height=0:0.3 --op peak_drop:p=0.5,fraction=0:0.3 \
             --op shift:delta=-0.3:0.3 --op window:p=0.5
# The training patterns go through the recipe that predict replays on raw scans (SNIP baseline, max
# normalisation), after augmentation has added backgrounds and counting noise: what the model sees in
# training is what a measured scan looks like once prepared.
RECIPE    ?= -s baseline:method=snip -s normalize:method=max
# The CNN (train's defaults: batch 128, bf16 on a CPU that has it), against the ViT below on the same set
# and epochs: validation top-1 65.1 against 52.6 %, compounds held out of the library 45.3 against 41.3 %
# (top-5 70.8 against 64.1 %). Retrained on the library whose types join the orderings of one structure
# (2,445 types): 123 measured RockJock references 62.6 % alone and 78.0 % verified, against 59.3 and 71.5 %
# before; 66.7 and 80.5 % with predict's lattice search (benchmarks/bench_default_model.py, bench_verify.py).
EPOCHS    ?= 12
MODEL     ?= --model cnn
TRAIN     ?= --lr 1e-3 --patience 3000 --select top1  # patience in optimiser steps: ~3 epochs of this set
# The ViT for transfer learning (README: Infrared and Raman): patch embeddings that carry to other grids.
VIT_OUT   ?= spectool/data/xrd-vit.safetensors
VIT_MODEL ?= --model vit --patch 120 --dim 96 --depth 4 --heads 4 --dropout 0
VIT_TRAIN ?= --batch-size 256 --lr 1e-3 --patience 3000 --select top1

CORPUS := $(BUILD)/library
STATE  := $(BUILD)/train.state.safetensors

# Phase references for predict's whole-pattern verification, added to the checkpoint: the first
# REF_PER_TYPE training structures of each type of the library the model was trained on, its namesake
# first, then one of each other mineral of the type (io/references.py: namesakes_first). 6 rather than
# 2 reached hematite in the corundum type and lifted the 122 measured RockJock references from 68.9 to
# 70.5 % verified top-1; the checkpoint grows from 11.2 to 15.0 MB. 10 rather than 6 (5,425 → 6,435
# references): 300 held-out compounds verified 58.3 → 61.7 % top-1 (a closer member of a new compound's
# type), the 123 measured references 80.5 % either way (galena gained, jarosite lost to kintoreite), the
# shipped checkpoint 21.4 → 23.0 MB, a warm scan 1.33 → 1.44 s.
REF_PER_TYPE ?= 10
# predict's "unknown" threshold: the 95th percentile of the unexplained peak-area share of correctly
# verified held-out compounds (CALIBRATE_N of them, drawn with SEED), stored beside the references with
# the confidence model fitted on the same verdicts (fit/confidence.py: whether the top candidate is right).
# 300 rather than 40: a logistic model needs the wrong answers too (about 115 of 300 on the shipped model).
CALIBRATE_N ?= 300

.PHONY: model transfer-model docs example clean-model references
model: $(OUT)
transfer-model: $(VIT_OUT)

$(CORPUS)/manifest.csv:
	@mkdir -p $(BUILD)
	$(SPECTOOL) corpus library $(LIBRARY) -o $(CORPUS) --force --per-type $(PER_TYPE) --holdout $(HOLDOUT) \
		--seed $(SEED) -j $(WORKERS) -q || test -f $@  # a CIF it cannot use is named, not fatal

$(BUILD)/sim-train.h5: $(CORPUS)/manifest.csv
	$(SPECTOOL) simulate $(CORPUS)/train --label parent $(INSTRUMENT) -j $(WORKERS) -q -o $@ || test -f $@  # as above

$(BUILD)/sim-test.h5: $(CORPUS)/manifest.csv
	$(SPECTOOL) simulate $(CORPUS)/test --label parent $(INSTRUMENT) -j $(WORKERS) -q -o $@ || test -f $@  # as above

$(BUILD)/aug.h5: $(BUILD)/sim-train.h5
	$(SPECTOOL) augment $< -n $(COPIES) $(AUGMENT) --seed $(SEED) -j $(WORKERS) -q -o $@

$(BUILD)/train.h5: $(BUILD)/aug.h5
	$(SPECTOOL) preprocess $< $(RECIPE) -q -o $@

$(BUILD)/test.h5: $(BUILD)/sim-test.h5
	$(SPECTOOL) preprocess $< $(RECIPE) -q -o $@

$(OUT): $(BUILD)/train.h5 $(BUILD)/test.h5
	$(SPECTOOL) train $< $(MODEL) $(TRAIN) --epochs $(EPOCHS) --seed $(SEED) --threads $(WORKERS) --test $(BUILD)/test.h5 \
		--label-info $(CORPUS)/types.csv --label-columns mineral,strukturbericht,aflow_title,examples,crystal_system \
		--state $(STATE) $(if $(wildcard $(STATE)),--resume $(STATE)) --log $(BUILD)/train.jsonl -o $@
	$(PYTHON) tools/half_weights.py $@
	$(PYTHON) tools/add_references.py $@ $(CORPUS) --split train --per-label $(REF_PER_TYPE)
	$(PYTHON) tools/calibrate_unknown.py $@ $(BUILD)/sim-test.h5 --n $(CALIBRATE_N) --seed $(SEED)
	rm -f $(STATE)

$(VIT_OUT): $(BUILD)/train.h5 $(BUILD)/test.h5
	$(SPECTOOL) train $< $(VIT_MODEL) $(VIT_TRAIN) --epochs $(EPOCHS) --seed $(SEED) --threads $(WORKERS) \
		--test $(BUILD)/test.h5 --label-info $(CORPUS)/types.csv \
		--label-columns mineral,strukturbericht,aflow_title,examples,crystal_system --state $(BUILD)/vit.state.safetensors \
		$(if $(wildcard $(BUILD)/vit.state.safetensors),--resume $(BUILD)/vit.state.safetensors) \
		--log $(BUILD)/vit.jsonl -o $@
	$(PYTHON) tools/half_weights.py $@
	rm -f $(BUILD)/vit.state.safetensors

references: $(CORPUS)/manifest.csv $(BUILD)/sim-test.h5
	$(PYTHON) tools/add_references.py $(OUT) $(CORPUS) --split train --per-label $(REF_PER_TYPE)
	$(PYTHON) tools/calibrate_unknown.py $(OUT) $(BUILD)/sim-test.h5 --n $(CALIBRATE_N) --seed $(SEED)

docs:
	$(PYTHON) tools/gendocs.py

example:
	$(PYTHON) tools/make_example.py

clean-model:
	rm -rf $(BUILD)
