"""The event inventory: landslide counts, the frequency-area distribution and its fits,
event magnitude, volume and density maps, from predicted or drawn landslide polygons."""
