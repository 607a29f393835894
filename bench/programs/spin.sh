#!/bin/sh
# A CPU-bound job of fixed work: N multiply-mod steps (the makespan bench calibrates N).
awk -v n="${1:-10000000}" 'BEGIN { x = 1; for (i = 0; i < n; i++) x = (x * 7 + i) % 1000003; print x }'
