"""Restoring and scoring real captures: ``gyrobench infer``, time-offset calibration from the photo, and
no-reference scoring of folders of captures. Sits above models and metrics; conventions in ``docs/captures.md``.
"""
