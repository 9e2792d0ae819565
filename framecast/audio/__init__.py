"""Sound for the TVs: capture from PulseAudio, one mix per channel, and the hubs its listeners
read, beside the picture's frame hubs (source → mix/encode → hub → HTTP, as for frames)."""
