#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the isolation kernel on the vtd machine, show its groups, lsisolation's
# explanation of them (the switch's group must be explained) and a VFIO
# DMA round trip (see scripts/guest/demo.sh).
set -eu
. "$(dirname "$0")/lib.sh"
exec "$TOP/scripts/vm.py" --machine "${MACHINE:-vtd}" --variant "${VARIANT:-isolation}" \
	--append quiet --log "$LOGS/demo.log" --timeout 300 --script "$TOP/scripts/guest/demo.sh"
