fn main() -> std::process::ExitCode {
    int_check::commands::main()
}
