"""Basic Pitch (Spotify, Apache-2.0): polyphonic audio to notes. ``model`` holds the network,
``inference`` the windowing and stitching of a whole recording; both import torch, so import
them where they are used."""
