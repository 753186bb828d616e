"""Golden model: numpy, bit-exact definitions of every digital operation of the chip."""
