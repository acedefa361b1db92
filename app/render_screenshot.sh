#!/bin/sh
# Renders the README screenshot (offscreen): a deep sigmoid network whose first layers' gradients underflow to 0.
exec python -m app --screenshot resources/screenshot.png --steps 60 \
  --set depth=40 --set activation=sigmoid --set init=normal --set init_std=0.15 --set width=64 --set lr=0.1
