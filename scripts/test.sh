#!/usr/bin/env bash
# The project's test command: installs the system packages the tests need (when missing), then runs every test.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: Xvfb and a software Vulkan driver (GUI screenshot test); Mosquitto, its
# clients and openssl (the MQTT tests start their own broker on a loopback port, some with TLS); mbpoll (a
# real Modbus TCP client the virtual PLC test reads registers with); pymodbus with its serial modules (a Modbus
# TCP server not written by the project, tests/peers/modbus_server.py, run by Debian's /usr/bin/python3); python3-venv
# (the virtual environment of the Python test peers below).
packages=(xvfb xauth mesa-vulkan-drivers libvulkan1 libxkbcommon-x11-0 mosquitto mosquitto-clients openssl mbpoll
    python3-pymodbus python3-serial python3-serial-asyncio python3-venv)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python test peers and the ML layer's training side (tests/peers/requirements.txt: pysparkplug, a Sparkplug B
# implementation the project did not write; pyarrow; scikit-learn, skl2onnx, onnx; asyncua, an OPC UA server) in a virtual environment of the project's own, target/peers-venv, made once and refreshed when the list
# changes. The tests find its interpreter there.
venv=target/peers-venv
if ! cmp -s tests/peers/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/peers/requirements.txt
    cp tests/peers/requirements.txt "$venv/requirements.txt"
fi

# --no-fail-fast: one failing test binary must not hide the results of the others.
cargo test --workspace --no-fail-fast "$@"
