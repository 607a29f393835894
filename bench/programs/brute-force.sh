#!/bin/sh
# "Brute force" (paper Table II): hash every 5-letter word, count those hitting the target.
awk -v target="${1:-742581}" 'BEGIN {
  for (a = 0; a < 26; a++) for (b = 0; b < 26; b++) for (c = 0; c < 26; c++) for (d = 0; d < 26; d++) for (e = 0; e < 26; e++) {
    if (((((a * 31 + b) * 31 + c) * 31 + d) * 31 + e) * 2654435761 % 1000003 == target) found++
  }
  print found + 0
}'
