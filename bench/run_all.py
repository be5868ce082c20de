"""Run every benchmark in turn (`make bench`)."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
for script in ("inbox_scaling.py", "fanout.py"):
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], cwd=HERE, check=True)
