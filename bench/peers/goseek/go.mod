module ringest/bench/peers/goseek

go 1.19
