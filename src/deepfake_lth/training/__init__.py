"""Training one model on one face store: the dense baseline, and the same loop for masked tickets."""
