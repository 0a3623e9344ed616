"""Rules the search stage (which merges two rankings) and the experiments stage (which credits clicks)
share: Team Draft Interleaving, who contributed each shown position, and which searches take part."""
