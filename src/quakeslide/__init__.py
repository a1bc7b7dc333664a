"""quakeslide: earthquake-induced landslide mapping with U-Net and LinkNet."""

__version__ = "0.1.0"
