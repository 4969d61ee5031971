"""Package discovery: every package under robustbench_snn/ (found, not listed by hand, so a new subpackage is never
left out of the wheel), plus the attack files and recipes mapped into the package (see pyproject.toml)."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["robustbench_snn", "robustbench_snn.*"]) +
      ["robustbench_snn._attacks", "robustbench_snn._recipes"])
