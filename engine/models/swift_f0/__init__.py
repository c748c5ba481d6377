"""SwiftF0 (MIT), monophonic pitch: its network in PyTorch (model), its shipped weights (loading),
a pitch track of any length (pitch)."""
