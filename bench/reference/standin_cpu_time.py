"""Runs official_loop_standin.py with its clock replaced by this process's CPU time (time.process_time, all threads),
so that its prefill_ms, ms_per_token and head_ms_per_token are CPU milliseconds: comparable with the cpu_* values of
`nextstep bench` on a machine whose other load makes wall-clock times unreliable. Same arguments as the stand-in."""
import os
import runpy
import sys
import time

time.perf_counter = time.process_time
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "official_loop_standin.py")
sys.argv = [script] + sys.argv[1:]
runpy.run_path(script, run_name="__main__")
