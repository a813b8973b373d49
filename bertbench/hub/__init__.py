"""The Hugging Face Hub stage: ``publish`` (export a release as a Hub dataset folder, publish it as one commit plus a
tag) and ``card`` (the dataset card). Reading ``hf://ID@vX.Y.Z`` sources back is a loader
(``bertbench.loaders.hub_source``), re-exported here as ``load_hub``."""

from bertbench.hub.publish import export, load_hub, merge_configs, parse_hf, publish

__all__ = ["export", "load_hub", "merge_configs", "parse_hf", "publish"]
