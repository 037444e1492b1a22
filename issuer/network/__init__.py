"""The bus network: routes, stops and shapes (from a GTFS feed), bus companies and their
vehicles."""
