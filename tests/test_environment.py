import re
import tomllib

import yaml
from conftest import REPO


def pinned(requirement: str) -> tuple[str, str]:
    name, version = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*", requirement).groups()
    return name.lower().replace("_", "-"), version


def test_environment_yml_pins_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    from_pyproject = dict(pinned(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge", "nodefaults"]
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    assert conda[:2] == ["python=3.11", "pip"]
    from_pip = next(d for d in environment["dependencies"] if isinstance(d, dict))["pip"]
    from_conda = dict(pinned(d) for d in conda[2:] + [d for d in from_pip if not d.startswith("-")])
    assert from_conda == from_pyproject
    assert project["requires-python"] == ">=3.11"
