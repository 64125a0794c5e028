"""HOSTILE: count_parameters returns objects whose __eq__ always answers True."""


class Anything(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class Whatever:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def count_parameters(model):
    # Anything survives JSON only as the plain int it wraps; Whatever cannot be written at all.
    return Anything(0), Anything(0)
