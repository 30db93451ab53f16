"""Appearance GAN: a texture generator trained on unlabelled photos, its data, metrics and plots."""
