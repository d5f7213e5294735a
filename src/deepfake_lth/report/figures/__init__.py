"""The report's figures: accuracy against sparsity, transfer, the teaser and the Grad-CAM grids, and the
pieces they share."""
