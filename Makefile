# The two entry points are `make demo` and `make test`; both work on a fresh Debian machine as root.
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian packages the tests use: SoftHSM2 (PKCS#11 token), OpenSC's pkcs11-tool, Chromium (browser e2e),
# a CJK font (seal pictures), PostgreSQL (central platform suite), Node.js (extension unit tests),
# the PDF engines recipients use (poppler-utils: pdftoppm/pdfsig, with poppler-data for the CJK character
# collections such as Adobe-GB1; mupdf-tools: mutool), qpdf, Firefox ESR.
TEST_DEBS := softhsm2 opensc chromium fonts-wqy-zenhei postgresql poppler-utils poppler-data mupdf-tools qpdf firefox-esr unzip
DEMO_DEBS := fonts-wqy-zenhei

.PHONY: venv demo test test-fast test-browser lint format deb system-deps-test system-deps-demo softskf fuzz

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,render]'
	$(PY) -m agent.cli.dataclass_code  # as an installation byte-compiles: see agent/cli/dataclass_code.py
	touch $@

system-deps-test:
	@installer/ensure-debs.sh $(TEST_DEBS)
	@command -v node >/dev/null || installer/ensure-debs.sh nodejs
	@command -v npm >/dev/null || installer/ensure-debs.sh npm

# The software USB key (GM/T 0016 SKF, and a PKCS#11 face over the same store) for tests and the demo.
SOFTSKF_SRC := $(wildcard native/softskf/*.c native/softskf/*.h)
SOFTSKF_CFLAGS := -std=c11 -O2 -Wall -Wextra -Wno-format-truncation -fPIC -fvisibility=hidden -shared

softskf: build/softskf/libsoftskf.so build/softskf/libsoftp11.so

build/softskf/libsoftskf.so: $(SOFTSKF_SRC)
	@installer/ensure-debs.sh gcc libc6-dev libssl-dev
	@mkdir -p build/softskf
	gcc $(SOFTSKF_CFLAGS) -o $@ native/softskf/softskf.c -lcrypto -lpthread

# The PKCS#11 face calls the SKF library (found next to it through the $$ORIGIN run path).
build/softskf/libsoftp11.so: build/softskf/libsoftskf.so $(SOFTSKF_SRC)
	@installer/ensure-debs.sh libp11-kit-dev
	gcc $(SOFTSKF_CFLAGS) -Wno-cast-function-type -I/usr/include/p11-kit-1 -o $@ native/softskf/softp11.c \
		-Lbuild/softskf -lsoftskf -Wl,-rpath,'$$ORIGIN' -lpthread

system-deps-demo:
	@installer/ensure-debs.sh $(DEMO_DEBS)

demo: venv system-deps-demo
	$(VENV)/bin/sealbridge demo

test: venv system-deps-test softskf
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@if [ -d extension/tests ]; then node --test extension/tests/; fi
	$(VENV)/bin/pytest -q -p no:cacheprovider

# Everything but the slow browser suite, for quick local loops.
test-fast: venv softskf
	$(VENV)/bin/pytest -q -m "not browser"

test-browser: venv system-deps-test softskf
	$(VENV)/bin/pytest -q -m browser

# The long seeded fuzz pass over PDF, OFD, seal blobs and protocol frames (CI runs a short one in pytest).
N ?= 20000
SEED ?= 1
fuzz: venv
	$(PY) -m tests.fuzz.run --n $(N) --seed $(SEED)

lint: venv
	$(VENV)/bin/ruff check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# dist/sealbridge_<version>_amd64.deb: the app in its own venv under /opt/sealbridge, user service, browser hosts.
deb: venv
	installer/linux/build-deb.sh
