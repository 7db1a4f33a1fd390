"""The cross-carrier placement procedure (Vermittlungsverfahren), spec: placement.md."""
