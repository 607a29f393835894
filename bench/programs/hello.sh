#!/bin/sh
# "Hello World" (paper Table II): the fixed cost of placing a program.
echo "hello, world"
