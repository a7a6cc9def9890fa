"""Corpora: manifests of official layouts, finding and labelling files, reading audio, checking a download, the
synthetic demo corpora."""
