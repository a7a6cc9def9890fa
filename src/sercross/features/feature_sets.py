"""The openSMILE feature sets sercross extracts (names and dimensions), and the installed openSMILE's version."""

from __future__ import annotations

from sercross.infra import SercrossError

# Feature sets of the opensmile package (opensmile.FeatureSet) and their functional dimensions.
FEATURE_SETS: dict[str, int] = {
    "IS10": 1582,
    "IS09": 384,
    "eGeMAPSv02": 88,
    "emobase": 988,
    "ComParE_2016": 6373,
}
DEFAULT_FEATURE_SET = "IS10"


def check_feature_set(name: str) -> str:
    if name not in FEATURE_SETS:
        raise SercrossError(
            f"unknown feature set {name!r}", hint=f"choose one of: {', '.join(FEATURE_SETS)}"
        )
    return name


def opensmile_version() -> str:
    # The installed distribution's version: the same string as opensmile.__version__, without the ~0.7 s
    # import, which a fully cached run does not otherwise need.
    try:
        from importlib.metadata import version

        return version("opensmile")
    except Exception:
        import opensmile

        return opensmile.__version__

