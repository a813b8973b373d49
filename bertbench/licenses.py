"""Licenses a release may carry and the citations a release names: constants with no imports, so every layer
(the store writing a manifest, the card, the CLI) can name them."""

#: Hub license identifiers ``commit --license`` accepts.
LICENSES = ("cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc0-1.0", "odc-by", "pddl", "apache-2.0", "mit", "other")

BERTBENCH_BIBTEX = (
    "@software{bertbench,\n  title={bertbench: NAS benchmarks of small BERT architectures and training-free proxies},\n"
    "  author={{The bertbench developers}},\n  year={2026},\n  license={Apache-2.0}\n}"
)
SEED_PAPER_BIBTEX = (
    "@inproceedings{serianni2023training,\n  title={Training-free Neural Architecture Search for RNNs and Transformers},\n"
    "  author={Serianni, Aaron and Kalita, Jugal},\n  booktitle={Proceedings of ACL},\n  year={2023}\n}"
)
GLUE_BIBTEX = (
    "@inproceedings{wang2019glue,\n  title={{GLUE}: A Multi-Task Benchmark and Analysis Platform for Natural Language "
    "Understanding},\n  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer and "
    "Bowman, Samuel R.},\n  booktitle={ICLR},\n  year={2019}\n}"
)
