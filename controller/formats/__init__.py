"""Wire formats shared by the controller and the rig: declarations and codecs, no behaviour."""
