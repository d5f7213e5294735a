from deepfake_lth.cli import console

console()
