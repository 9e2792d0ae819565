"""The channels being shown: the registry of shows, and for each the part that follows its
`source` and its viewers' demand and keeps the chosen source running."""
