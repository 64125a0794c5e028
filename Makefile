# Two commands do everything on a fresh machine: `make grade` and `make test`.
# Each one creates or refreshes the virtualenv in .venv first.
PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
PROFILE  ?= cpu
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

GRADE_ARGS := --profile $(PROFILE) --jobs $(JOBS)
ifdef SUBMISSIONS
  GRADE_ARGS += --submissions $(SUBMISSIONS)
endif
ifdef SUBMISSION
  GRADE_ARGS += --submission $(SUBMISSION)
endif

.PHONY: venv setup grade check report test dist bench clean

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
	$(PY) -m grader check --profile $(PROFILE) $(if $(SUBMISSION),--submission $(SUBMISSION),)

report: venv
	$(PY) -m grader report --profile $(PROFILE) $(if $(SUBMISSION),--submission $(SUBMISSION),) --lang $(or $(REPORT_LANG),both)

test: venv
	$(PY) -m pytest -n $(WORKERS) --dist loadfile $(MARKERS) $(PYTEST_ARGS)

dist: venv
	$(PY) -m grader dist

bench: venv
	@for b in benchmarks/*.py; do n=$$(basename $$b .py); echo "== $$n"; $(PY) -m benchmarks.$$n || exit 1; done

clean:
	rm -rf build dist
