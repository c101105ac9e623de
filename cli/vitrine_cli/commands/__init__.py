"""One module per command group; ``vitrine_cli.app`` registers them."""
