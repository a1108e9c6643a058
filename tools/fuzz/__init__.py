"""Coverage-guided fuzz targets for every parser at a wire (issue 19, "Fuzzing").

Each target (tools/fuzz/targets.py) takes one input of bytes and drives one parser with it; the property is the
same for all: no exception escapes except the parser's own declared error type, no input takes longer than the
per-input bound, memory stays under the RSS limit. `python -m tools.fuzz` (make fuzz) runs each target under
atheris (libFuzzer) in its own process; tests/fuzz replays the regression corpus and runs a short smoke.
"""
