# Two commands do everything on a fresh machine: `make grade` and `make test`.
# Each one creates or refreshes the virtualenv in .venv first.
PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
PROFILE  ?=
CONFIG   ?=
SET      ?=
JOBS     ?= 1
WORKERS  ?= auto
MARKERS  ?=
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export TOKENIZERS_PARALLELISM := false

ifdef SLOW
  MARKERS :=
else ifeq ($(FAST),1)
  MARKERS := -m "not slow"
endif

# The course configuration (README "Course configuration"): CONFIG=path (else $$MIZAN_CONFIG, else
# ./mizan.toml), SET="nli.epochs=2 fraud.epochs=1" for one run; PROFILE=name picks the base profile
# over the file's (default: the file's `profile`, else cpu).
PROFILE_ARGS := $(if $(PROFILE),--profile $(PROFILE)) $(if $(CONFIG),--config $(CONFIG)) $(foreach s,$(SET),--set $(s))
GRADE_ARGS := $(PROFILE_ARGS) --jobs $(JOBS)
ifdef SUBMISSIONS
  GRADE_ARGS += --submissions $(SUBMISSIONS)
endif
ifdef SUBMISSION
  GRADE_ARGS += --submission $(SUBMISSION)
endif
ifdef EXECUTOR
  GRADE_ARGS += --executor $(EXECUTOR)
endif

.PHONY: venv setup grade check experiments report test dist bench clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned dependencies into $(VENV) (first time: about 3 minutes)..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

venv: $(STAMP)
setup: venv

grade: venv
	$(PY) -m grader grade $(GRADE_ARGS)

check: venv
	$(PY) -m grader check $(PROFILE_ARGS) $(if $(SUBMISSION),--submission $(SUBMISSION),)

experiments: venv
	$(PY) -m grader experiments $(PROFILE_ARGS) $(if $(SUBMISSION),--submission $(SUBMISSION),) $(if $(TASKS),--tasks $(TASKS),)

report: venv
	$(PY) -m grader report $(PROFILE_ARGS) $(if $(SUBMISSION),--submission $(SUBMISSION),) --lang $(or $(REPORT_LANG),both)

test: venv
	$(PY) -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder $(MARKERS) $(PYTEST_ARGS)

dist: venv
	$(PY) -m grader dist $(PROFILE_ARGS)

bench: venv
	@for b in benchmarks/*.py; do n=$$(basename $$b .py); echo "== $$n"; $(PY) -m benchmarks.$$n || exit 1; done

clean:
	rm -rf build dist
