"""Pure picture work: decode and fit a slide, labels and fades, messages, encoding."""
