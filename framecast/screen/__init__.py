"""The live screen: X capture, DAMAGE to skip unchanged frames, one encode per frame."""
