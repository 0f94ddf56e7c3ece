from scalinglaw.cli import run

run()
