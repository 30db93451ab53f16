"""Dataset export: randomized images with full labels, written as domrand/COCO/BOP folders."""
