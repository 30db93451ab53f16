"""Perception models: the heatmap localizer, the direct pose regressor, their data and the camera geometry they share."""
